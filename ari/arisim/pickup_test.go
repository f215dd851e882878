package arisim_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/ari/arisim"
)

// pickupChannel is what the sequence below shows of a channel.
type pickupChannel struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Caller    party  `json:"caller"`
	Connected party  `json:"connected"`
	Dialplan  struct {
		Context string `json:"context"`
		Exten   string `json:"exten"`
		App     string `json:"app_name"`
		Data    string `json:"app_data"`
	} `json:"dialplan"`
	Created string            `json:"creationtime"`
	Vars    map[string]string `json:"channelvars"`
}

type party struct {
	Number string `json:"number"`
}

// pickupSequence is the events of a call from the picker's channel's
// creation to the caller joining the bridge, one line each, the channels
// named by who they are: in (the trunk's), 102, 103 (the phones dialled),
// 104 (the picker's); linked IDs likewise, creation times by the channels
// created then (the simulator makes the phones' channels in the
// millisecond the call arrives: in+103).
func pickupSequence(t *testing.T, msgs [][]byte) []string {
	t.Helper()
	return callSequence(t, msgs, func(typ, role, state string) bool { return typ == "ChannelCreated" && role == "104" })
}

// callSequence is the events of a call, as pickupSequence shows them,
// from the first for which from holds (given its type, and the role and
// state of its channel) to the caller joining the bridge or the call's
// end.
func callSequence(t *testing.T, msgs [][]byte, from func(typ, role, state string) bool) []string {
	t.Helper()
	roles := map[string]string{}
	// created names a creation time by the channels created then.
	created := map[string]string{}
	role := func(id string) string {
		if r, ok := roles[id]; ok {
			return r
		}
		return "?" + id
	}
	show := func(ch *pickupChannel) string {
		s := fmt.Sprintf("%s %s", role(ch.ID), ch.State)
		if ch.Name != "" && !strings.HasPrefix(ch.Name, "PJSIP/"+role(ch.ID)+"-") && !strings.HasPrefix(ch.Name, "PJSIP/trunk-") {
			s += " named " + ch.Name
		}
		s += fmt.Sprintf(" at %s/%s %s(%s) caller %s connected %s created-as %s linked %s did %s",
			ch.Dialplan.Context, ch.Dialplan.Exten, ch.Dialplan.App, ch.Dialplan.Data, ch.Caller.Number, ch.Connected.Number,
			created[ch.Created], role(ch.Vars["CHANNEL(linkedid)"]), ch.Vars["FROM_DID"])
		return s
	}
	var out []string
	started := false
	for _, m := range msgs {
		var e struct {
			Type       string
			Dialstatus string
			Dialstring string
			Cause      int
			Soft       bool
			Variable   string
			Value      string
			Channel    *pickupChannel
			Caller     *pickupChannel
			Peer       *pickupChannel
		}
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("not JSON: %s", m)
		}
		if e.Type == "ChannelCreated" {
			r := "in"
			if n := e.Channel.Name; strings.HasPrefix(n, "PJSIP/10") {
				r = n[len("PJSIP/"):strings.IndexByte(n, '-')]
			}
			roles[e.Channel.ID] = r
			if prev, ok := created[e.Channel.Created]; ok {
				r = prev + "+" + r
			}
			created[e.Channel.Created] = r
		}
		if e.Channel != nil && from(e.Type, role(e.Channel.ID), e.Channel.State) {
			started = true
		}
		if !started {
			continue
		}
		switch e.Type {
		case "DeviceStateChanged", "BridgeCreated":
			continue
		case "ChannelVarset":
			switch e.Variable {
			case "DIALSTATUS", "DIALEDPEERNAME", "DIALEDPEERNUMBER":
				out = append(out, fmt.Sprintf("ChannelVarset %s %s=%s", role(e.Channel.ID), e.Variable, e.Value))
			}
			continue
		case "Dial":
			out = append(out, fmt.Sprintf("Dial %q %s -> %s dialstring %q", e.Dialstatus, role(e.Caller.ID), show(e.Peer), e.Dialstring))
		case "ChannelDestroyed":
			out = append(out, fmt.Sprintf("ChannelDestroyed cause %d: %s", e.Cause, show(e.Channel)))
		case "ChannelHangupRequest":
			out = append(out, fmt.Sprintf("ChannelHangupRequest cause %d soft %v: %s", e.Cause, e.Soft, show(e.Channel)))
		default:
			out = append(out, e.Type+": "+show(e.Channel))
		}
		if e.Type == "ChannelEnteredBridge" && role(e.Channel.ID) == "in" {
			break
		}
	}
	return out
}

// TestPickupsSendWhatAsteriskSends: the events of a pickup, from the
// picker's channel to the caller's bridge, as ari/arisim/pickup.go
// establishes them from Asterisk 22's source.
func TestPickupsSendWhatAsteriskSends(t *testing.T) {
	const did = "74951112233"
	caller := "+79161234567"
	tests := []struct {
		name string
		call arisim.Call
		want []string
	}{
		{name: "group pickup (*8) of the one phone dialled",
			call: arisim.Call{Caller: caller, DID: did, Scenario: arisim.Pickup, Operators: []string{"103", "104"}},
			want: []string{
				// chan_pjsip: 104's INVITE to *8, no dialplan.
				"ChannelCreated: 104 Ring at from-internal/*8 () caller 104 connected  created-as 104 linked 104 did ",
				// ast_do_pickup: connected line, answer.
				"ChannelConnectedLine: 104 Ring at from-internal/*8 () caller 104 connected " + caller + " created-as 104 linked 104 did ",
				"ChannelStateChange: 104 Up at from-internal/*8 () caller 104 connected " + caller + " created-as 104 linked 104 did ",
				// The masquerade's breakdown: 103's ID on the picker's struct, half swapped.
				`Dial "CANCEL" in -> 103 Ringing at from-internal/*8 () caller 104 connected ` + caller + ` created-as 104 linked in did  dialstring "103"`,
				`Dial "" in -> 104 Up at from-internal/*8 () caller 104 connected ` + caller + ` created-as 104 linked 104 did  dialstring "103"`,
				// The picker's channel on the dialled struct.
				"ChannelDialplan: 104 Up at phones/" + did + " AppDial((Outgoing Line)) caller 104 connected " + caller + " created-as in+103 linked 104 did " + did,
				// chan_pjsip hangs the old struct up, cause 16.
				"ChannelDestroyed cause 16: 103 Ringing at from-internal/*8 () caller " + did + " connected " + caller + " created-as 104 linked in did " + did,
				// Dial takes the answer.
				"ChannelConnectedLine: in Ring at from-trunk/" + did + " Dial(PJSIP/103,20) caller " + caller + " connected 104 created-as in+103 linked in did " + did,
				"ChannelVarset in DIALSTATUS=ANSWER",
				"ChannelVarset in DIALEDPEERNAME=PJSIP/104-00000003",
				"ChannelVarset in DIALEDPEERNUMBER=103",
				`Dial "ANSWER" in -> 104 Up at phones/ AppDial((Outgoing Line)) caller 104 connected ` + caller + ` created-as in+103 linked 104 did ` + did + ` dialstring ""`,
				"ChannelStateChange: in Up at from-trunk/" + did + " Dial(PJSIP/103,20) caller " + caller + " connected 104 created-as in+103 linked in did " + did,
				"ChannelDialplan: 104 Up at phones/ AppDial((Outgoing Line)) caller 104 connected " + caller + " created-as in+103 linked in did " + did,
				"ChannelEnteredBridge: 104 Up at phones/ AppDial((Outgoing Line)) caller 104 connected " + caller + " created-as in+103 linked in did " + did,
				"ChannelEnteredBridge: in Up at from-trunk/" + did + " Dial(PJSIP/103,20) caller " + caller + " connected 104 created-as in+103 linked in did " + did,
			}},
		{name: "directed pickup (**103, PickupChan) of one of two phones a ring-all Dial rings",
			call: arisim.Call{Caller: caller, DID: did, Scenario: arisim.DirectedPickup, Operators: []string{"102", "103", "104"}, PickedUp: "103"},
			want: []string{
				"ChannelCreated: 104 Ring at from-internal/**103 () caller 104 connected  created-as 104 linked 104 did ",
				"ChannelDialplan: 104 Ring at from-internal/**103 PickupChan(PJSIP/103) caller 104 connected  created-as 104 linked 104 did ",
				"ChannelConnectedLine: 104 Ring at from-internal/**103 PickupChan(PJSIP/103) caller 104 connected " + caller + " created-as 104 linked 104 did ",
				"ChannelStateChange: 104 Up at from-internal/**103 PickupChan(PJSIP/103) caller 104 connected " + caller + " created-as 104 linked 104 did ",
				`Dial "CANCEL" in -> 103 Ringing at from-internal/**103 PickupChan(PJSIP/103) caller 104 connected ` + caller + ` created-as 104 linked in did  dialstring "103"`,
				`Dial "" in -> 104 Up at from-internal/**103 PickupChan(PJSIP/103) caller 104 connected ` + caller + ` created-as 104 linked 104 did  dialstring "103"`,
				"ChannelDialplan: 104 Up at phones/" + did + " AppDial((Outgoing Line)) caller 104 connected " + caller + " created-as in+102+103 linked 104 did " + did,
				// The dialplan ends: APPUNLOAD's hangup request with 103's
				// last snapshot, then the end with ast_do_pickup's cause.
				"ChannelHangupRequest cause 16 soft true: 103 Ringing at phones/" + did + " AppDial((Outgoing Line)) caller " + did + " connected " + caller + " created-as in+102+103 linked in did " + did,
				"ChannelDestroyed cause 26: 103 Ringing at from-internal/**103 () caller " + did + " connected " + caller + " created-as 104 linked in did " + did,
				"ChannelConnectedLine: in Ring at from-trunk/" + did + " Dial(PJSIP/102&PJSIP/103,20) caller " + caller + " connected 104 created-as in+102+103 linked in did " + did,
				`Dial "CANCEL" in -> 102 Ringing at phones/` + did + ` AppDial((Outgoing Line)) caller ` + did + ` connected ` + caller + ` created-as in+102+103 linked in did ` + did + ` dialstring ""`,
				"ChannelDestroyed cause 26: 102 Ringing at phones/" + did + " AppDial((Outgoing Line)) caller " + did + " connected " + caller + " created-as in+102+103 linked in did " + did,
				"ChannelVarset in DIALSTATUS=ANSWER",
				"ChannelVarset in DIALEDPEERNAME=PJSIP/104-00000004",
				"ChannelVarset in DIALEDPEERNUMBER=103",
				`Dial "ANSWER" in -> 104 Up at phones/ AppDial((Outgoing Line)) caller 104 connected ` + caller + ` created-as in+102+103 linked 104 did ` + did + ` dialstring ""`,
				"ChannelStateChange: in Up at from-trunk/" + did + " Dial(PJSIP/102&PJSIP/103,20) caller " + caller + " connected 104 created-as in+102+103 linked in did " + did,
				"ChannelDialplan: 104 Up at phones/ AppDial((Outgoing Line)) caller 104 connected " + caller + " created-as in+102+103 linked in did " + did,
				"ChannelEnteredBridge: 104 Up at phones/ AppDial((Outgoing Line)) caller 104 connected " + caller + " created-as in+102+103 linked in did " + did,
				"ChannelEnteredBridge: in Up at from-trunk/" + did + " Dial(PJSIP/102&PJSIP/103,20) caller " + caller + " connected 104 created-as in+102+103 linked in did " + did,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := simulate(t, traceCase{cfg: arisim.Config{ChannelVars: true, Tech: arisim.TechPJSIP}, call: tt.call})
			if d := cmp.Diff(tt.want, pickupSequence(t, msgs)); d != "" {
				t.Errorf("events from the picker's channel to the bridge (-want +got):\n%s", d)
			}
		})
	}
}
