# The steady state of one landscape (valley steady-state --out FILE): the training and test losses
# and the effective potential v (left, v shifted to share U_train's minimum), and rho (right).
# usage: gnuplot -e "file='rho.csv'; out='rho.png'" plots/steady_state.gp
if (!exists("file")) file = 'rho.csv'
if (!exists("out")) out = 'rho.png'
set terminal pngcairo size 1200,480
set output out
set datafile separator ','
set multiplot layout 1,2
set grid
set xlabel 'theta'
set ylabel 'loss'
set key top center
stats file using 2 name 'U' nooutput
stats file using 5 name 'V' nooutput
plot file using 1:2 with lines lw 2 title 'U_{train}', \
     '' using 1:3 with lines lw 1 dt 2 title 'U_{test}', \
     '' using 1:($5 - V_min + U_min) with lines lw 2 title 'v(theta, T) (shifted)'
set ylabel 'rho(theta)'
set key top right
plot file using 1:6 with lines lw 2 title 'rho = exp(-2v/T) / Z'
unset multiplot
