package screenpop

// answeredState moves operator op's pop of a call that by answered (or
// took over by a transfer), and reports whether it changed: by's becomes
// active; one that was active becomes transferred to by; a ringing or
// missed one is taken. The first answerer stays AnsweredBy.
func answeredState(pc *PopCall, op, by string) bool {
	switch {
	case op == by:
		if pc.State == StateActive {
			return false
		}
		pc.State = StateActive
	case pc.State == StateActive || pc.State == StateTransferred && pc.TransferredTo != by:
		pc.State, pc.TransferredTo = StateTransferred, by
	case pc.State == StateRinging || pc.State == StateMissed:
		pc.State = StateTaken
	default:
		return false
	}
	if pc.AnsweredBy == "" {
		pc.AnsweredBy = by
	}
	return true
}

// TakeOver gives operator a pop of the call they now talk to without
// their phone having rung for it (the target of an attended transfer),
// transferred from the operator from. Answered then makes it active.
func (h *Hub) TakeOver(operator string, call PopCall, from string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stream(operator)
	if pc := s.calls[call.Key()]; pc != nil {
		if from != "" {
			pc.TransferredFrom = from
		}
		return
	}
	s.order = append(s.order, call.Key())
	h.callOps[call.Key()] = append(h.callOps[call.Key()], operator)
	call.State, call.TransferredFrom = StateTaken, from
	s.calls[call.Key()] = &call
}

// Transferred tells the operator's page that they transferred the call
// to to (an extension: whoever answers there takes it over).
func (h *Hub) Transferred(operator, key, to string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.operators[operator]
	if s == nil || s.calls[key] == nil || s.calls[key].State != StateActive {
		return
	}
	pc := s.calls[key]
	pc.State, pc.TransferredTo = StateTransferred, to
	h.publish(operator, MsgAnswered, pc, pc.AnsweredBy)
}
