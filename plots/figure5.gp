# Figure 5 of He, Huang, Yuan (2019): SGD iterates on an asymmetric valley and their running
# average.  usage: gnuplot -e "file='fig5.csv'; out='fig5.png'" plots/figure5.gp
if (!exists("file")) file = 'fig5.csv'
if (!exists("out")) out = 'fig5.png'
set terminal pngcairo size 900,500
set output out
set datafile separator ','
set key top right
set xlabel 'SGD iteration t'
set ylabel 'w'
set grid
plot file using 1:2 with lines lc rgb '#888888' title 'w_t (flat side w >= 0)', \
     '' using 1:3 with lines lw 2 lc rgb '#d62728' title 'running average', \
     0 with lines dt 2 lc rgb 'black' notitle
