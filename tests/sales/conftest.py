import pytest


@pytest.fixture(autouse=True)
def built_in_pipelines(db):
    """The migration's pipelines, again: a transactional test elsewhere flushes them."""
    from clm.sales.pipelines import install_built_in

    install_built_in()
