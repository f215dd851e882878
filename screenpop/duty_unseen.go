package screenpop

// Unseen periods under the output duty: in a cluster every replica's
// tracker finds the same period at the same resync of the box's log; the
// holder passes it on, and standbys keep it, as they keep records, for
// should they take the duty before the holder wrote it (a call log that
// keeps a period once by box and start makes the copy harmless).

// RecordUnseen passes p on to the call log, if it keeps unseen periods,
// while the duty is held; otherwise it is kept for recentRecords by the
// tracker's clock and given when the duty is taken.
func (l *dutyLog) RecordUnseen(p UnseenPeriod) {
	u, ok := l.log.(UnseenLog)
	if !ok {
		return
	}
	if l.d.on {
		u.RecordUnseen(p)
		return
	}
	l.recentUnseen = append(l.dropOldUnseen(), p)
}

// dropOldUnseen is recentUnseen without the periods that ended more than
// recentRecords ago by the tracker's clock: their holder had time to
// write them.
func (l *dutyLog) dropOldUnseen() []UnseenPeriod {
	limit := l.d.clock().Add(-recentRecords)
	i := 0
	for i < len(l.recentUnseen) && l.recentUnseen[i].To.Before(limit) {
		i++
	}
	return l.recentUnseen[i:]
}

// takeUnseen gives the periods kept while muted to the call log, as the
// duty is taken.
func (l *dutyLog) takeUnseen() {
	if u, ok := l.log.(UnseenLog); ok {
		for _, p := range l.dropOldUnseen() {
			u.RecordUnseen(p)
		}
	}
	l.recentUnseen = nil
}
