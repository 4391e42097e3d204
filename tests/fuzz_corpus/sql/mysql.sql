SELECT company_name FROM customers WHERE customer_id = 5
--@@
SELECT company_name, address, corporate_number FROM customers WHERE customer_id IN (1,2,3) INTO OUTFILE '/tmp/x.csv' FIELDS TERMINATED BY ','
--@@
SELECT * INTO DUMPFILE '/tmp/y' FROM contacts LIMIT 1
--@@
SELECT `c`.`company_name`, k.contract_no FROM orders.customers AS c JOIN contracts k USING (customer_id) WHERE c.customer_id = ? AND k.contract_no LIKE 'C%'
--@@
SELECT * FROM customers WHERE company_name = 'O\'Reilly' OR address = "x\"y" LIMIT 10, 5
--@@
INSERT INTO stolen (a, b) SELECT email, phone FROM contacts ON DUPLICATE KEY UPDATE a = VALUES(a)
--@@
UPDATE contracts SET service_plan = 'x' WHERE customer_id = 3 ORDER BY contract_id LIMIT 1
--@@
DELETE FROM contacts WHERE contact_id = 1
--@@
REPLACE INTO customers VALUES (1, 'a', 'b', 'c')
--@@
SHOW TABLES
--@@
/*!40101 SET NAMES utf8mb4 */
--@@
SELECT 0x41, b'01', _utf8mb4'x' COLLATE utf8mb4_bin, 1e3 FROM dual
--@@
LOAD DATA INFILE '/etc/passwd' INTO TABLE t
--@@
SELECT a FROM customers JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts JOIN contacts
