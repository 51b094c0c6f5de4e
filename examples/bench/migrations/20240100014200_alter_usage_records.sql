ALTER TABLE usage_records ADD KEY usage_records_recorded (subscription_id, recorded_at);
