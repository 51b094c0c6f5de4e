ALTER TABLE leave_requests ADD KEY leave_requests_status (status, starts_on);
