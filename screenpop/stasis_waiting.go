package screenpop

import "time"

// waitingInStasis hands the Stasis handler the channels a resync found
// waiting in our app: their continue was lost with the old connection, or
// they arrived while we were away.
func (t *Tracker) waitingInStasis(ids []string, at time.Time) {
	for _, id := range ids {
		n := Notice{Kind: NoticeStasis, At: at, ChannelID: id}
		if l := t.legs[id]; l != nil {
			c := l.call
			t.announce(c)
			n = t.notice(c, NoticeStasis)
			n.ChannelID = id
		}
		t.obs.Notice(n)
	}
}
