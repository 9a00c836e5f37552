-- The four intake channels. Cadence is how often each one's partitions are materialized.
select *
from (
    values
        ('social_media', 'Social media', 'Signed webhooks', 'streaming', 15, 'Streaming, 15 min partitions'),
        ('sms', 'SMS', 'Provider REST API', 'polled', 15, '15 min'),
        ('call_center', 'Call centre', 'CSV exports', 'batch', 720, '12 h'),
        ('web_forms', 'Website forms', 'OLTP table', 'polled', 15, '15 min')
) as channels (channel, channel_name, source_system, arrival, cadence_minutes, cadence)
