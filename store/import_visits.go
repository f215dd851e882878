package store

import (
	"time"

	"github.com/screenpop/screenpop/screenpop"
)

// addImportedVisits adds to a client's record what their client base export
// said of their visits (clients.last_visit_on and visit_count; nil when it
// said nothing): the later of the two last visits, the larger of the two
// counts. An imported visit has a date and nothing else. The export does
// not date its count, so of the visits of the last year only the last one
// is known: a client whose imported last visit is within the year has at
// least one.
func addImportedVisits(r *screenpop.ClientRecord, lastVisit *time.Time, visits *int, now time.Time) {
	if lastVisit != nil {
		if r.LastVisit == nil || lastVisit.After(r.LastVisit.Date) {
			r.LastVisit = &screenpop.Visit{Date: lastVisit.UTC()}
		}
		// A date with no count is one visit at least.
		r.Visits = max(r.Visits, 1)
		if !lastVisit.Before(now.Add(-yearDays)) {
			r.VisitsLastYear = max(r.VisitsLastYear, 1)
		}
	}
	if visits != nil {
		r.Visits = max(r.Visits, *visits)
	}
}
