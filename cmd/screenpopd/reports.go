package main

import (
	"time"

	"github.com/screenpop/screenpop/screenpop"
	"github.com/screenpop/screenpop/screenpop/report"
	"github.com/screenpop/screenpop/screenpop/web"
)

// The reports page (GET /reports) and its API (GET /api/reports/summary,
// analyst staff tokens), which counts days and hours in the daemon's zone:
// run it with TZ set to the call centre's (TZ=Europe/Moscow).
func mountReports(d serveDeps) error {
	d.web.Handle("GET /reports", web.ReportsPage())
	d.web.Handle("GET /api/reports/summary", web.RequireStaff(d.staff, screenpop.RoleAnalyst,
		web.ReportsSummary[report.Summary](d.db, report.TableNames, d.cfg.ServiceLevel, time.Local, time.Now, d.log)))
	return nil
}
