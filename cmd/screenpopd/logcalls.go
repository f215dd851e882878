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
	attrs := []any{"call", c.ID, "direction", c.Direction, "status", c.Status, "caller", maskedCaller(c), "did", c.DID,
		"wait", seconds(c.WaitSeconds), "talk", seconds(c.TalkSeconds)}
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

func maskedCaller(c screenpop.Call) string {
	switch {
	case c.Withheld:
		return "withheld"
	case c.CallerE164 != nil:
		return screenpop.MaskNumber(*c.CallerE164)
	}
	return screenpop.MaskNumber(c.Caller)
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}
