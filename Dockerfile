# Build with the SDK image, run on the smaller ASP.NET runtime image as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /source
# Restore first, from the project files alone, so the package layer is cached across code changes.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/QueryStatus.Api/QueryStatus.Api.csproj src/QueryStatus.Api/
RUN dotnet restore src/QueryStatus.Api/QueryStatus.Api.csproj
COPY src/ src/
RUN dotnet publish src/QueryStatus.Api/QueryStatus.Api.csproj -c Release -o /app --no-restore -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
# curl only for the HEALTHCHECK below; the runtime image has no HTTP client.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_HTTP_PORTS=8080
# The GC's smallest gen0 budget: 32 MB. Where the runtime cannot read the CPU's cache sizes (VMs without
# /sys/devices/system/cpu/cpu0/cache, such as ours), it settles on about 2 MB and collects gen0 some 90 times a second
# under status polls, 7% of the time in pauses; with 32 MB a status poll costs 6% less CPU and ingest into PostgreSQL
# runs up to half again faster (bench/RESULTS.md, twelfth session). Only the environment can set it (the runtime reads
# no runtimeconfig knob for it). The benchmark starts every server, the baseline too, with the DOTNET_ lines of this file.
ENV DOTNET_GCgen0size=0x2000000
EXPOSE 8080
# The image's built-in unprivileged user (APP_UID, 1654).
USER $APP_UID
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD curl --fail --silent http://localhost:8080/healthz || exit 1
ENTRYPOINT ["dotnet", "QueryStatus.Api.dll"]
