-- Gold dimension: one row per calendar month covered by the valid overtime records: the
-- reference period of payroll and reporting. period_id is yyyymm (202510).
WITH bounds AS (
    SELECT
        CAST(date_trunc('month', min(work_date)) AS DATE) AS first_month,
        CAST(date_trunc('month', max(work_date)) AS DATE) AS last_month
    FROM overtime_records
),

months AS (
    SELECT CAST(month_start AS DATE) AS period_start
    FROM bounds, generate_series(first_month, last_month, INTERVAL 1 MONTH) AS g(month_start)
),

days AS (
    -- every day of every month, to count the working days
    SELECT
        m.period_start,
        CAST(d.day AS DATE) AS day
    FROM months AS m,
         generate_series(m.period_start, CAST(last_day(m.period_start) AS TIMESTAMP), INTERVAL 1 DAY) AS d(day)
)

SELECT
    CAST(year(period_start) * 100 + month(period_start) AS INTEGER) AS period_id,
    CAST(year(period_start) AS INTEGER)                             AS year,
    CAST(month(period_start) AS INTEGER)                            AS month,
    monthname(period_start)                                         AS month_name,
    CAST(quarter(period_start) AS INTEGER)                          AS quarter,
    period_start,
    last_day(period_start)                                          AS period_end,
    -- Monday to Friday: public holidays differ per country and are not deducted
    CAST(count(*) FILTER (WHERE isodow(day) <= 5) AS INTEGER)       AS working_days
FROM days
GROUP BY period_start
ORDER BY period_id
