ALTER TABLE webhook_deliveries ADD COLUMN response_ms INT NULL;
