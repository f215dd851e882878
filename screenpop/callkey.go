package screenpop

// CallKey names a call across boxes: its ID alone with one box (pbx ""),
// "pbx/id" otherwise. Call IDs are Asterisk's linkedids, unique only
// within a box, so wherever calls of several boxes meet (the hub, the
// operator page, logs, errors) a call is known by its key; a box name
// holds no "/" (asterisk.boxes[].name), so a key names one call.
func CallKey(pbx, id string) string {
	if pbx == "" {
		return id
	}
	return pbx + "/" + id
}

// OnBox is an Observer of one box's calls: each box has its own call
// tracking, whose notices it hands on to o with the box's name (Notice.PBX,
// and the PBX of a finished record), so that what several boxes share (the
// pops, the access ledger) keys each call by its box.
func OnBox(pbx string, o Observer) Observer {
	if pbx == "" {
		return o
	}
	return onBox{pbx, o}
}

type onBox struct {
	pbx string
	o   Observer
}

func (b onBox) Notice(n Notice) {
	n.PBX = b.pbx
	if n.Call != nil && n.Call.PBX != b.pbx {
		c := *n.Call // the tracker's record: not changed under it
		c.PBX = b.pbx
		n.Call = &c
	}
	b.o.Notice(n)
}
