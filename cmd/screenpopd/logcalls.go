package main

import (
	"log/slog"
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// logCalls logs each call as it is recorded, for an admin following the
// daemon: the caller's number masked, their name never.
type logCalls struct{ log *slog.Logger }

func (l logCalls) Record(c screenpop.Call) {
	var attrs []any
	if c.PBX != "" {
		attrs = append(attrs, "pbx", c.PBX)
	}
	attrs = append(attrs, "call", c.ID, "direction", c.Direction, "status", c.Status, "caller", callerNumber(c), "did", c.DID,
		"wait", seconds(c.WaitSeconds), "talk", seconds(c.TalkSeconds))
	if c.AnsweredBy != nil {
		attrs = append(attrs, "answered_by", *c.AnsweredBy)
	}
	if len(c.OfferedTo) > 0 {
		attrs = append(attrs, "offered_to", c.OfferedTo)
	}
	if c.CloseReason != "" {
		attrs = append(attrs, "close_reason", c.CloseReason)
	}
	if len(c.Gaps) > 0 {
		attrs = append(attrs, "gaps", c.Gaps)
	}
	l.log.Info("call ended", attrs...)
}

// callerNumber is the call's caller as a screenpop.Number, which logs
// itself masked.
func callerNumber(c screenpop.Call) screenpop.Number {
	n := screenpop.Number{Raw: c.Caller, Withheld: c.Withheld}
	if c.CallerE164 != nil {
		n.E164 = *c.CallerE164
	}
	return n
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}
