# The shift-curvature paper's Figure 4 / G.2.6 panels from a temperature sweep
# (valley basins --sweep TMIN:TMAX:N --csv FILE): basin probabilities against T (left) and the
# expected train and test losses with eqs. (7)/(8) (right).
# usage: gnuplot -e "file='sweep.csv'; out='sweep.png'" plots/basins_sweep.gp
if (!exists("file")) file = 'sweep.csv'
if (!exists("out")) out = 'sweep.png'
set terminal pngcairo size 1200,480
set output out
set datafile separator ','
set multiplot layout 1,2
set logscale x
set grid
set xlabel 'temperature T'
set ylabel 'probability of the basin'
set key top left
# columns 8.. hold the weights of the basins of the training minima (header w(theta=...))
stats file using 1 nooutput
ncol = STATS_columns
plot for [c=8:ncol] file using 1:c with lines lw 2 title columnheader(c) noenhanced
set ylabel 'expected loss under rho'
set key top right
plot file using 1:2 with lines lw 2 title 'E[U_{train}]', \
     '' using 1:3 with lines lw 2 title 'E[U_{test}] (exact)', \
     '' using 1:5 with lines dt 2 lw 1 title 'eq. (7)', \
     '' using 1:6 with lines dt 3 lw 1 title 'eq. (8)'
unset multiplot
