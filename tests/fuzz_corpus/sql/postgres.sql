SELECT company_name FROM customers WHERE customer_id = 5
--@@
SELECT c.company_name, k.contract_no FROM customers c JOIN contracts k ON k.customer_id = c.customer_id WHERE c.customer_id IN (3, 40)
--@@
SELECT count(*), sum(contract_id) FROM contracts WHERE contract_no LIKE 'C00001%'
--@@
WITH t AS (SELECT * FROM customers WHERE customer_id <= 2) SELECT t.company_name, p.email FROM t JOIN contacts p ON p.customer_id = t.customer_id
--@@
SELECT DISTINCT k.service_plan FROM contracts k WHERE k.customer_id = 2
--@@
SELECT x.company_name FROM (SELECT customer_id, max(company_name) AS company_name FROM customers GROUP BY customer_id) x WHERE x.customer_id = 4
--@@
SELECT email FROM contacts WHERE contact_id = 1 UNION ALL SELECT company_name FROM customers WHERE customer_id = 9
--@@
SELECT contact_name, email FROM public.contacts WHERE email ILIKE $1 AND contact_id BETWEEN $2 AND 10 ORDER BY 1 LIMIT $3 OFFSET 2
--@@
PREPARE q(text, int) AS SELECT company_name, corporate_number FROM customers WHERE customer_id = $2 OR company_name = $1;
--@@
DECLARE c1 BINARY CURSOR WITH HOLD FOR SELECT * FROM customers WHERE address IS NOT NULL
--@@
COPY (SELECT c.*, p.phone FROM customers c LEFT JOIN contacts p USING (customer_id)) TO STDOUT WITH CSV HEADER
--@@
COPY public.contacts (contact_id, customer_id, contact_name) TO stdout;
--@@
COPY customers FROM '/tmp/x.csv'
--@@
INSERT INTO stolen SELECT * FROM customers WHERE NOT (customer_id <> 7)
--@@
CREATE TABLE loot AS SELECT email, phone FROM contacts WHERE phone ~ '^\+81'
--@@
SELECT company_name INTO TEMP x FROM customers WHERE customer_id = ANY('{1,2,3}'::int[])
--@@
UPDATE contracts k SET service_plan = 'free' FROM customers c WHERE c.customer_id = k.customer_id AND c.company_name = 'A' RETURNING k.contract_no
--@@
DELETE FROM contacts USING customers WHERE contacts.customer_id = customers.customer_id AND customers.customer_id = -1
--@@
TRUNCATE contracts, contacts
--@@
DROP TABLE IF EXISTS customers CASCADE
--@@
MERGE INTO customers c USING contacts p ON c.customer_id = p.customer_id WHEN MATCHED THEN UPDATE SET address = NULL
--@@
EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM customers WHERE customer_id = 1
--@@
EXPLAIN SELECT * FROM contacts
--@@
SELECT row_number() OVER (PARTITION BY customer_id ORDER BY contact_id) AS n, lower(email) FROM contacts WHERE email IS NOT NULL AND EXISTS (SELECT 1 FROM customers WHERE customers.customer_id = contacts.customer_id)
--@@
SELECT customer_id, array_agg(email) FROM contacts GROUP BY customer_id HAVING count(*) > 1 ORDER BY customer_id FETCH FIRST 5 ROWS ONLY
--@@
SELECT * FROM pg_catalog.pg_user; SELECT 1
--@@
SELECT $$dollar 'quoted' text$$, E'esc\'aped\n', U&'\0041', B'101', X'1F', 1.5e10, -0.0, 'a''b' FROM products
--@@
SELECT /* comment ' " */ "company_name" FROM "customers" -- trailing
--@@
VACUUM ANALYZE customers
--@@
SET search_path TO evil, public
--@@
TRUNCATE contracts, (SELECT 1)
