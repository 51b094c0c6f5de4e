-- A trigger created under another sql_mode: its body only parses with ANSI_QUOTES.
SET @saved_mode = @@SESSION.sql_mode;
SET SESSION sql_mode = 'ANSI_QUOTES,STRICT_TRANS_TABLES';
CREATE TRIGGER parent_bi BEFORE INSERT ON parent FOR EACH ROW SET NEW."label" = TRIM(NEW."label");
SET SESSION sql_mode = @saved_mode;
