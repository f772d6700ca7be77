# One image for the projector, the API and the simulator: the command picks the role.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY events ./events
COPY projector ./projector
COPY api ./api
COPY deploystatus ./deploystatus
COPY cli ./cli
COPY devtools ./devtools
RUN pip install . && useradd --system --no-create-home deploystatus

USER deploystatus
EXPOSE 8000
ENTRYPOINT ["deploystatus"]
CMD ["api"]
