package ari

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/screenpop/screenpop/screenpop"
)

// chanJSON is a channel as Asterisk 22 writes it in an event, with
// channelvars as the README recommends.
func chanJSON(id, name, number, context, pres string) string {
	return `{"id":"` + id + `","name":"` + name + `","state":"Up","protocol_id":"","caller":{"name":"","number":"` + number +
		`"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"` + context +
		`","exten":"102","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-24T23:00:36.321+0000","language":"en",` +
		`"channelvars":{"CHANNEL(linkedid)":"` + id + `","FROM_DID":"","CALLERID(pres)":"` + pres + `"}}`
}

func TestDecodeWhatSaysWhyAndWhoToWhom(t *testing.T) {
	dec := NewDecoder("FROM_DID")
	trunk := chanJSON("t1", "PJSIP/trunk-00000001", "+79161234567", "from-trunk", "prohib_not_screened")
	op101 := chanJSON("a1", "PJSIP/101-00000002", "101", "from-internal", "allowed_not_screened")
	consult := chanJSON("k1", "PJSIP/101-00000003", "101", "from-internal", "allowed_not_screened")
	op102 := chanJSON("k2", "PJSIP/102-00000004", "102", "from-internal", "allowed_not_screened")
	head := func(typ string) string {
		return `{"type":"` + typ + `","timestamp":"2026-11-24T23:00:40.000+0000",`
	}
	tail := `,"asterisk_id":"02:fc:00:00:00:01","application":"screenpop"}`
	tests := []struct {
		name string
		data string
		want screenpop.Event
		err  error
	}{
		{
			name: "DIALSTATUS set on the caller's channel is a variable event",
			data: head("ChannelVarset") + `"variable":"DIALSTATUS","value":"CHANUNAVAIL","channel":` + trunk + tail,
			want: screenpop.Event{Kind: screenpop.EventVariable, Type: "ChannelVarset", Variable: "DIALSTATUS", Value: "CHANUNAVAIL",
				Channel: screenpop.Channel{ID: "t1", Name: "PJSIP/trunk-00000001", Presentation: "prohib_not_screened"}},
		},
		{
			name: "QUEUESTATUS too",
			data: head("ChannelVarset") + `"variable":"QUEUESTATUS","value":"JOINUNAVAIL","channel":` + trunk + tail,
			want: screenpop.Event{Kind: screenpop.EventVariable, Type: "ChannelVarset", Variable: "QUEUESTATUS", Value: "JOINUNAVAIL",
				Channel: screenpop.Channel{ID: "t1", Name: "PJSIP/trunk-00000001", Presentation: "prohib_not_screened"}},
		},
		{
			name: "any other variable is skipped unread",
			data: head("ChannelVarset") + `"variable":"__FROM_DID","value":"74951112233","channel":` + trunk + tail,
			err:  ErrSkipped,
		},
		{
			name: "a global DIALSTATUS (no channel) is skipped",
			data: head("ChannelVarset") + `"variable":"DIALSTATUS","value":"ANSWER"` + tail,
			err:  ErrSkipped,
		},
		{
			name: "ChannelCallerId's caller_presentation 32 is prohib_not_screened",
			data: head("ChannelCallerId") + `"caller_presentation":32,"caller_presentation_txt":"Presentation Prohibited, Not Screened","channel":` +
				strings.Replace(trunk, `,"CALLERID(pres)":"prohib_not_screened"`, "", 1) + tail,
			want: screenpop.Event{Kind: screenpop.EventChannelUpdated, Type: "ChannelCallerId",
				Channel: screenpop.Channel{ID: "t1", Name: "PJSIP/trunk-00000001", Presentation: "prohib_not_screened"}},
		},
		{
			name: "a hangup request made inside Asterisk is soft",
			data: head("ChannelHangupRequest") + `"soft":true,"cause":32,"channel":` + trunk + tail,
			want: screenpop.Event{Kind: screenpop.EventHangupRequest, Type: "ChannelHangupRequest", Cause: 32, Soft: true,
				Channel: screenpop.Channel{ID: "t1", Name: "PJSIP/trunk-00000001", Presentation: "prohib_not_screened"}},
		},
		{
			name: "a blind transfer names the operator's channel, the caller's and the extension",
			data: head("BridgeBlindTransfer") + `"channel":` + op101 + `,"transferee":` + trunk +
				`,"bridge":{"id":"b1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"basic","creator":"","name":"","channels":["t1","a1"],"creationtime":"2026-11-24T23:00:36.321+0000","video_mode":"talker"}` +
				`,"context":"from-internal","exten":"102","result":"Success","is_external":true` + tail,
			want: screenpop.Event{Kind: screenpop.EventTransfer, Type: "BridgeBlindTransfer",
				Channel: screenpop.Channel{ID: "a1", Name: "PJSIP/101-00000002", Presentation: "allowed_not_screened"},
				Transfer: &screenpop.Transfer{
					Transferer: screenpop.Channel{ID: "a1", Name: "PJSIP/101-00000002", Presentation: "allowed_not_screened"},
					Transferee: screenpop.Channel{ID: "t1", Name: "PJSIP/trunk-00000001", Presentation: "prohib_not_screened"},
					Exten:      "102", Context: "from-internal", Result: "Success"}},
		},
		{
			name: "an attended transfer names both of the operator's legs, the caller and the target",
			data: head("BridgeAttendedTransfer") + `"transferer_first_leg":` + op101 + `,"transferer_second_leg":` + consult +
				`,"transferee":` + trunk + `,"transfer_target":` + op102 +
				`,"result":"Success","is_external":true,"destination_type":"bridge","destination_bridge":"b1"` + tail,
			want: screenpop.Event{Kind: screenpop.EventTransfer, Type: "BridgeAttendedTransfer",
				Channel: screenpop.Channel{ID: "a1", Name: "PJSIP/101-00000002", Presentation: "allowed_not_screened"},
				Transfer: &screenpop.Transfer{Attended: true,
					Transferer: screenpop.Channel{ID: "a1", Name: "PJSIP/101-00000002", Presentation: "allowed_not_screened"},
					Consult:    screenpop.Channel{ID: "k1", Name: "PJSIP/101-00000003", Presentation: "allowed_not_screened"},
					Transferee: screenpop.Channel{ID: "t1", Name: "PJSIP/trunk-00000001", Presentation: "prohib_not_screened"},
					Target:     screenpop.Channel{ID: "k2", Name: "PJSIP/102-00000004", Presentation: "allowed_not_screened"},
					Result:     "Success"}},
		},
	}
	// Only what these tests are about: who, which variable, which cause.
	only := cmp.Options{
		cmpopts.IgnoreFields(screenpop.Event{}, "At"),
		cmpopts.IgnoreFields(screenpop.Channel{}, "State", "Context", "Exten", "CallerNumber", "CallerName", "LinkedID", "DID", "CreatedAt"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, _, err := dec.Decode([]byte(tt.data))
			if tt.err != nil || err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				return
			}
			if d := cmp.Diff(tt.want, ev, only); d != "" {
				t.Errorf("event (-want +got):\n%s", d)
			}
		})
	}
}

func TestPresentationNames(t *testing.T) {
	for pres, want := range map[int]string{0: "allowed_not_screened", 3: "allowed", 0x20: "prohib_not_screened", 0x23: "prohib", 0x43: "unavailable", 0x61: "allowed"} {
		if got := PresentationName(pres); got != want {
			t.Errorf("PresentationName(%#x) = %q, want %q", pres, got, want)
		}
		if screenpop.PresentationProhibited(PresentationName(pres)) != (pres&0x60 == 0x20) {
			t.Errorf("presentation %#x: prohibited is wrong", pres)
		}
	}
}

func TestUnknownEventTypesShareOneMetricLabel(t *testing.T) {
	if MetricType("ChannelCreated") != "ChannelCreated" || MetricType("CallBroadcast") != "unknown" || MetricType("x1") != "unknown" {
		t.Error("an unknown type must be counted as unknown, a known one by its name")
	}
}

func TestA404WhileAsteriskRestartsSaysSo(t *testing.T) {
	first := (&StatusError{URL: "http://pbx:8088/ari", Method: "GET", Path: "/asterisk/info", Code: 404}).Error()
	if !strings.Contains(first, "ARI is not enabled there") {
		t.Errorf("a 404 from a URL that never answered says %q; want the configuration hint", first)
	}
	later := (&StatusError{URL: "http://pbx:8088/ari", Method: "GET", Path: "/channels", Code: 404, AnsweredBefore: true}).Error()
	if !strings.Contains(later, "Asterisk is restarting, or reloading its ARI module") || strings.Contains(later, "not enabled") {
		t.Errorf("a 404 from a URL that answered before says %q; want it to say Asterisk is restarting", later)
	}
}

func TestStasisModeFollowsTheBridgesItsCallsEnter(t *testing.T) {
	out := make(chan screenpop.Event, 4)
	in := NewIntake(NewDecoder("FROM_DID"), out, NewMetrics(nil), slog.New(slog.DiscardHandler))
	var follow []string
	in.dialled = func(src string) { follow = append(follow, src) }
	trunk := chanJSON("t1", "PJSIP/trunk-00000001", "+79161234567", "from-trunk", "allowed_not_screened")
	in.Feed(context.Background(), []byte(`{"type":"ChannelEnteredBridge","timestamp":"2026-11-24T23:00:40.000+0000","bridge":{"id":"b1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"basic","creator":"","name":"","channels":["t1"],"creationtime":"2026-11-24T23:00:36.321+0000","video_mode":"none"},"channel":`+trunk+`,"asterisk_id":"02:fc:00:00:00:01","application":"screenpop"}`))
	if len(follow) != 1 || follow[0] != "bridge:b1" {
		t.Errorf("followed %v, want the caller's bridge b1: an attended transfer's target enters it undialled", follow)
	}
}
