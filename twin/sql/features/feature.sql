'{{"type":"Feature","id":' || t.id || ',"geometry":' || {geometry} || ',"properties":{{' || {properties} || '}}}}'
