package screenpop

import (
	"fmt"
	"strings"
)

// EndpointPatterns recognise operators' phones by channel name. A pattern
// is a channel name prefix with {ext} where the operator's extension
// stands: "PJSIP/{ext}" matches PJSIP/101-0000002a, "Local/{ext}@phones"
// matches Local/101@phones-0000003d;1, "IAX2/op{ext}" matches IAX2/op101-322.
type EndpointPatterns struct {
	patterns []endpointPattern
}

type endpointPattern struct{ prefix, suffix string }

// ParseEndpointPatterns checks each pattern has exactly one {ext} and a
// technology ("PJSIP/...").
func ParseEndpointPatterns(patterns []string) (EndpointPatterns, error) {
	var ep EndpointPatterns
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		before, after, ok := strings.Cut(p, "{ext}")
		switch {
		case !ok:
			return EndpointPatterns{}, fmt.Errorf("operator endpoint %q has no {ext}", p)
		case strings.Contains(after, "{ext}"):
			return EndpointPatterns{}, fmt.Errorf("operator endpoint %q has {ext} twice", p)
		case !strings.Contains(before, "/"):
			return EndpointPatterns{}, fmt.Errorf("operator endpoint %q does not start with a technology such as PJSIP/", p)
		}
		ep.patterns = append(ep.patterns, endpointPattern{before, after})
	}
	return ep, nil
}

// Operator returns the extension of the operator whose phone the channel
// is, or "" when it is no operator's phone.
func (ep EndpointPatterns) Operator(channelName string) string {
	op, _ := ep.match(channelName)
	return op
}

// match returns the operator a channel is the phone of and the pattern
// that says so (for the classification); op is "" for no operator's phone.
func (ep EndpointPatterns) match(channelName string) (op string, pattern endpointPattern) {
	base := channelBase(channelName)
	for _, p := range ep.patterns {
		if len(base) <= len(p.prefix)+len(p.suffix) ||
			!strings.HasPrefix(base, p.prefix) || !strings.HasSuffix(base, p.suffix) {
			continue
		}
		ext := base[len(p.prefix) : len(base)-len(p.suffix)]
		if validExt(ext) {
			return ext, p
		}
	}
	return "", endpointPattern{}
}

func validExt(ext string) bool {
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.') {
			return false
		}
	}
	return ext != ""
}

// channelBase strips what Asterisk appends to an endpoint to name one
// channel: the ";1"/";2" of a Local half, then the "-0000003d" sequence.
func channelBase(name string) string {
	name = localPair(name)
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

// localPair returns the name both halves of a Local channel share
// ("Local/101@phones-0000003d"), or the name unchanged for other channels.
func localPair(name string) string {
	if strings.HasPrefix(name, "Local/") {
		if i := strings.LastIndexByte(name, ';'); i > 0 {
			return name[:i]
		}
	}
	return name
}

// localHalf is 1 or 2 for the halves of a Local channel, 0 otherwise.
func localHalf(name string) int {
	if strings.HasPrefix(name, "Local/") {
		switch {
		case strings.HasSuffix(name, ";1"):
			return 1
		case strings.HasSuffix(name, ";2"):
			return 2
		}
	}
	return 0
}
