using EnergyWs;
using EnergyWs.Demo;
using EnergyWs.Health;
using EnergyWs.Kafka;
using EnergyWs.Metrics;
using EnergyWs.Streaming;

var builder = WebApplication.CreateSlimBuilder(args);

builder.AddHosting();
builder.AddDemo();          // before Kafka: the embedded broker must outlive its clients
builder.AddKafkaReadings();
builder.AddStreaming();
builder.AddHealth();
builder.AddMetrics();

var app = builder.Build();

app.UseWebSockets();
app.UseRateLimiter();     // per-IP limit on /ws connection attempts (429)
app.MapStreaming();
app.MapHealth();
app.MapMetrics();

return await app.RunWithStartupErrorsAsync();
