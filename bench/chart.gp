# bench/chart.gp — grouped bar chart for bench/compare.
# Called as: gnuplot -e "thr='thr.dat'; cpu='cpu.dat'; mem='mem.dat'; out='chart.png';
#                        names='sluice nginx h2o'; colors='#1f8a82 #12344d #e0a030'; ref='nginx';
#                        nscen=7; nmem=1; subtitle='...'" bench/chart.gp
# Each data file: one row per scenario: "scenario" v1 "label1" v2 "label2" ... (vN relative to
# `ref`, labels are the absolute values); "?" marks a missing value. thr/cpu: the throughput
# scenarios (nscen rows; '' and 0 if none); mem: idle-tls-rss, h2-idle-rss (nmem rows; '' and 0
# if none).
n = words(names)
panels = (nscen > 0 ? 2 : 0) + (nmem > 0 ? 1 : 0)
set terminal pngcairo size (nscen > 4 ? 1100 + 120 * (nscen - 4) : 1100),(panels == 3 ? 1250 : panels == 2 ? 900 : 500) font "DejaVu Sans,10" noenhanced
set output out
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb "#dddddd"
set key top left horizontal
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set xtics nomirror
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "#888888" back
# x position of bar i (1-based) inside a cluster of n bars with gap 1.
xpos(i) = $0 + (i - 1 - (n - 1) / 2.0) / (n + 1.0)

vs = ""
do for [i=1:n] { vs = vs.(i > 1 ? " vs " : "").word(names, i) }
set multiplot layout panels,1 title vs." — ".subtitle

if (nscen > 0) {
    set xrange [-0.6:nscen-0.4]
    set title "Throughput relative to ".ref." (higher is better; labels: absolute)"
    set ylabel "× ".ref
    plot for [i=1:n] thr using (column(2*i)):xtic(1) title word(names, i) lc rgb word(colors, i), \
         for [i=1:n] thr using (xpos(i)):(column(2*i)):(stringcolumn(2*i+1)) \
             with labels center offset 0,0.7 font ",8" notitle

    set title "Server CPU time per request (per GB for *16m, per handshake for https-handshake/-resume, per page for h2-page) relative to ".ref." (lower is better)"
    set ylabel "× ".ref
    plot for [i=1:n] cpu using (column(2*i)):xtic(1) title word(names, i) lc rgb word(colors, i), \
         for [i=1:n] cpu using (xpos(i)):(column(2*i)):(stringcolumn(2*i+1)) \
             with labels center offset 0,0.7 font ",8" notitle
}

if (nmem > 0) {
    set xrange [-0.6:nmem-0.4]
    set title "Server RSS per idle TLS connection (h2-idle-rss: HTTP/2 set up) relative to ".ref." (lower is better; labels: absolute)"
    set ylabel "× ".ref
    plot for [i=1:n] mem using (column(2*i)):xtic(1) title word(names, i) lc rgb word(colors, i), \
         for [i=1:n] mem using (xpos(i)):(column(2*i)):(stringcolumn(2*i+1)) \
             with labels center offset 0,0.7 font ",8" notitle
}

unset multiplot
