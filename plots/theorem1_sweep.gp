# Theorem 1 of He, Huang, Yuan (2019): the expected gain of the biased point against the bound,
# as l grows (valley theorem1 --sweep-l).  The shaded part is where the statement allows l
# (l_i <= max{rbar - dbar_i, dbar_i - r}) but the proof does not (l_i <= min{...}).
# usage: gnuplot -e "file='sweep.csv'; out='sweep.png'" plots/theorem1_sweep.gp
if (!exists("file")) file = 'sweep.csv'
if (!exists("out")) out = 'sweep.png'
set terminal pngcairo size 900,520
set output out
set datafile separator ','
set key top left
set xlabel 'l_1 (bias along u_1)'
set ylabel 'E L(w*) - E L(w* + sum l_i u_i)'
set grid
# column 8 (proof_applies) is 1 where the proof's conditions hold
plot file using 2:($8 == 1 ? $3 : 1/0) with lines lw 2 lc rgb '#1f77b4' title 'gain (proof conditions hold)', \
     '' using 2:($8 == 1 ? 1/0 : $3) with lines lw 2 lc rgb '#d62728' title 'gain (only the statement''s conditions hold)', \
     '' using 2:4 with lines dt 2 lw 2 lc rgb 'black' title 'bound, xi at R = ||l|| (as stated)', \
     '' using 2:5 with lines dt 3 lw 1 lc rgb '#555555' title 'bound, xi at R'' = ||l|| + ||dbar||'
