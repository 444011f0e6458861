COPY demo_things FROM STDIN
