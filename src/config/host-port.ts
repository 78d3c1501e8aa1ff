/** HOST:PORT as flags and config keys take it (a name or IPv4 address; no IPv6 brackets yet). */
export const HOST_PORT_PATTERN = /^[^\s:]+:\d{1,5}$/;
