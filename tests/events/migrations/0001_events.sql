-- Events a migration leaves enabled: dbtest disables them in the template, so that no test
-- database runs one, whatever the server's event_scheduler.
CREATE TABLE ticks (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20) NOT NULL DEFAULT 'tick');
CREATE EVENT e_tick ON SCHEDULE EVERY 1 SECOND COMMENT 'ticks' DO INSERT INTO ticks () VALUES ();
CREATE EVENT e_later ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 03:00:00' ON COMPLETION PRESERVE ENABLE
    DO DELETE FROM ticks;
CREATE EVENT e_off ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01 03:00:00' DISABLE DO DELETE FROM ticks;
