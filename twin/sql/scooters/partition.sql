SELECT scooter_position_partition(%(day)s::date)
