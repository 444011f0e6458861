-- How many plans there are (the tests count rows to prove a refusal stored nothing).
SELECT count(*) FROM plans
