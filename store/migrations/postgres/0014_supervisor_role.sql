-- Supervisors: a staff token role that opens the wallboard (GET
-- /wallboard), the call centre's live view. The column CHECK of 0005 is
-- named by PostgreSQL's rule, staff_role_check.
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check CHECK (role IN ('analyst', 'admin', 'supervisor'));
