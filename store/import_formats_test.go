package store

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/screenpop/screenpop/clientcsv"
	"github.com/screenpop/screenpop/screenpop"
)

// TestImportedVisitsMakeTheSegment imports a base whose only visit history
// is a last-visit date and a count, and looks its clients up as the pop
// does: each in the segment the dealership would put them in.
func TestImportedVisitsMakeTheSegment(t *testing.T) {
	now := time.Now().UTC()
	ago := func(days int) string { return now.AddDate(0, 0, -days).Format("02.01.2006") }
	csvText := "ФИО;Телефон;Последний визит;Количество визитов\r\n" +
		"Петров Иван;89161110001;" + ago(40) + ";7\r\n" + // a customer
		"Сидоров Пётр;89161110002;" + ago(500) + ";3\r\n" + // not seen for over a year
		"Козлов Олег;89161110003;;\r\n" + // never came
		"Орлова Анна;89161110004;;5\r\n" // came, nobody knows when
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := openImportBase(t, b)
			f, err := clientcsv.Read([]byte(csvText), clientcsv.Options{Region: "RU"})
			if err != nil {
				t.Fatal(err)
			}
			mergeOK(t, s, MergeOptions{}, f.Rows...)
			segments := map[string]screenpop.Segment{}
			visits := map[string]int{}
			for _, n := range []string{"+79161110001", "+79161110002", "+79161110003", "+79161110004"} {
				recs, err := s.LookupPhone(t.Context(), n)
				if err != nil || len(recs) != 1 {
					t.Fatalf("LookupPhone(%s): %v, %d clients", n, err, len(recs))
				}
				card := screenpop.DefaultCardRules.NewClientCard(recs[0], now)
				segments[recs[0].LastName], visits[recs[0].LastName] = card.Segment, recs[0].Visits
			}
			want := map[string]screenpop.Segment{"Петров": screenpop.SegmentReal, "Сидоров": screenpop.SegmentLost,
				"Козлов": screenpop.SegmentPotential, "Орлова": screenpop.SegmentReal}
			if diff := cmp.Diff(want, segments); diff != "" {
				t.Errorf("segments (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"Петров": 7, "Сидоров": 3, "Козлов": 0, "Орлова": 5}, visits); diff != "" {
				t.Errorf("visits (-want +got):\n%s", diff)
			}

			// A later export knows of a later visit; an older one changes
			// nothing.
			later, err := clientcsv.Read([]byte("ФИО;Телефон;Последний визит;Количество визитов\r\n"+
				"Сидоров Пётр;89161110002;"+ago(10)+";4\r\n"+"Петров Иван;89161110001;"+ago(400)+";2\r\n"), clientcsv.Options{Region: "RU"})
			if err != nil {
				t.Fatal(err)
			}
			rep := mergeOK(t, s, MergeOptions{}, later.Rows...)
			if got := outcomes(rep); got[2] != screenpop.RowMerged || got[3] != screenpop.RowUnchanged {
				t.Errorf("outcomes %v: want the later visit merged, the older one unchanged", got)
			}
			for n, want := range map[string]screenpop.Segment{"+79161110002": screenpop.SegmentReal, "+79161110001": screenpop.SegmentReal} {
				recs, err := s.LookupPhone(t.Context(), n)
				if err != nil || len(recs) != 1 {
					t.Fatalf("LookupPhone(%s): %v", n, err)
				}
				if seg := screenpop.DefaultCardRules.NewClientCard(recs[0], now).Segment; seg != want || recs[0].LastVisit == nil ||
					now.Sub(recs[0].LastVisit.Date) > 45*24*time.Hour {
					t.Errorf("%s after the second import: %s, last visit %+v", n, seg, recs[0].LastVisit)
				}
			}
		})
	}
}
