-- The customers data set of scripts/bench/customers.sh and dedupe.sh, for psql with the variable
-- rows: rows customers with a name from a small set, a unique e-mail and phone, and an address
-- with a quote in it; the same rows every run.
INSERT INTO "Customers" ("firstName", "lastName", "email", "phone", "address", "totalPurchases", "createdAt", "updatedAt")
SELECT (ARRAY['Ada','Bruno','Chloé','Dmitri','Eve','Farah','Goran','Hana','Ivan','Jia','Kofi','Lena'])[1 + i % 12],
       (ARRAY['Smith','Jones','García','Müller','Nakamura','Okafor','Rossi','Silva','Novak','Kim','Smirnov','Osmond',
              'Brown','Dubois','Haddad','Ivanova','Larsen','Moreau','Nguyen','Patel'])[1 + (i / 12) % 20],
       'customer' || i || '@example.com',
       '+1 555 ' || lpad((i % 10000000)::text, 7, '0'),
       i || ' Main Street, "Unit ' || (i % 50) || '", Springfield',
       0.00,
       timestamptz '2024-01-01 00:00:00+00' + (i || ' seconds')::interval,
       timestamptz '2024-01-01 00:00:00+00' + (i || ' seconds')::interval
FROM generate_series(1, :rows) AS i;
