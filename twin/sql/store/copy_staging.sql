COPY {staging} ({columns}{sep}g) FROM STDIN
