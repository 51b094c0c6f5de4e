ALTER TABLE audit_events ADD CONSTRAINT fk_audit_events_user_id FOREIGN KEY (user_id) REFERENCES users (id);
