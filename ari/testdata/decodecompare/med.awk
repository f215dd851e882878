# Per way: the median (and range) of cpu-ns/event and ns/event over the runs, allocations and bytes an event.
function med(s,   a,n,i,j,t){n=split(s,a," "); for(i=1;i<=n;i++)for(j=i+1;j<=n;j++)if(a[j]+0<a[i]+0){t=a[i];a[i]=a[j];a[j]=t}; return sprintf("%d (%d–%d)", (n%2)?a[(n+1)/2]:(a[n/2]+a[n/2+1])/2, a[1], a[n])}
/^Benchmark/ {n=$1; sub(/-2$/,"",n); sub(/BenchmarkUsed\//,"",n); for(i=2;i<=NF;i++){if($(i+1)=="ns/event")w[n]=w[n]" "$i; if($(i+1)=="cpu-ns/event")c[n]=c[n]" "$i; if($(i+1)=="allocs/op")a[n]=$i; if($(i+1)=="B/op")by[n]=$i; if($(i+1)=="events")ev[n]=$i}}
END{for(n in w)printf "%-28s cpu %-22s wall %-24s allocs/ev %.1f B/ev %d\n", n, med(c[n]), med(w[n]), a[n]/ev[n], by[n]/ev[n]}
