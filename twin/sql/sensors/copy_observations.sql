COPY sta_observations (
    id, datastream_id, phenomenon_time, phenomenon_time_end, result_time, result_number,
    result_json, result_quality, valid_start, valid_end, parameters, feature_of_interest_id
) FROM STDIN
