-- The day partitions a batch needs (made when missing; cheap when they exist).
SELECT sta_observation_partition(day) FROM unnest(%(days)s::date[]) AS day
