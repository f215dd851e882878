package screenpop

import "testing"

func TestEndpointPatternsOperator(t *testing.T) {
	ep, err := ParseEndpointPatterns([]string{"PJSIP/{ext}", "Local/{ext}@phones", "IAX2/op{ext}"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, channel, want string }{
		{"a PJSIP phone channel is its extension", "PJSIP/101-0000002a", "101"},
		{"the dialled half of a Local channel is the operator", "Local/101@phones-0000003d;1", "101"},
		{"the other half of a Local channel matches too", "Local/102@phones-00000048;2", "102"},
		{"an IAX2 phone with a prefix before the extension", "IAX2/op101-322", "101"},
		{"an inbound trunk channel is nobody", "PJSIP/trunk-0000001", "trunk"},
		{"a Local channel into another context is nobody", "Local/74951112233@from-trunk-0000003c;1", ""},
		{"the IAX2 carrier is nobody", "IAX2/carrier-2487", ""},
		{"an empty name is nobody", "", ""},
		{"a name that is only the prefix is nobody", "PJSIP/-01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ep.Operator(tt.channel); got != tt.want {
				t.Errorf("Operator(%q) = %q, want %q", tt.channel, got, tt.want)
			}
		})
	}
}

func TestParseEndpointPatternsRejectsNonsense(t *testing.T) {
	for _, p := range []string{"PJSIP/101", "PJSIP/{ext}{ext}", "{ext}"} {
		if _, err := ParseEndpointPatterns([]string{p}); err == nil {
			t.Errorf("ParseEndpointPatterns(%q) accepted it", p)
		}
	}
}
