"""Tenant isolation in the data-access layer: a tenant's session sees only its own rows.

Every session is opened for one tenant or for all of them (the worker and the
reconciler, which act on whatever was queued). A tenant's session gets, on every
SELECT, UPDATE and DELETE it runs, the criterion ``tenant_id = <its tenant>`` for each
``TenantOwned`` table in the statement, and ``job_id IN (<its jobs>)`` for metrics and job
events (SQLAlchemy's ``with_loader_criteria``). ``session.get`` of another tenant's id
finds nothing, a count counts only the tenant's rows, and an UPDATE of another tenant's
row matches no row. A route cannot forget the filter, because it never writes it: it only
has the request's session. New rows are stamped with the session's tenant when flushed;
a row stamped with a different tenant is refused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from api.core.persistence.tables import Job, JobEvent, Metric, TenantOwned

TENANT_INFO_KEY = "sslpt_tenant_id"


class CrossTenantWrite(RuntimeError):
    """A tenant's session was asked to store a row of another tenant (a programming error)."""


def scope_to_tenant(session: Session, tenant_id: str | None) -> Session:
    """Limit ``session`` to ``tenant_id``'s rows; None leaves it seeing every tenant."""
    session.info[TENANT_INFO_KEY] = tenant_id
    return session


def session_tenant(session: Session) -> str | None:
    tenant: str | None = session.info.get(TENANT_INFO_KEY)
    return tenant


@event.listens_for(Session, "do_orm_execute")
def _only_the_tenants_rows(state: ORMExecuteState) -> None:
    tenant = session_tenant(state.session)
    if tenant is None or state.is_column_load or state.is_relationship_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    own_jobs = select(Job.id).where(Job.tenant_id == tenant).scalar_subquery()
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned, lambda cls: cls.tenant_id == tenant, include_aliases=True
        ),
        with_loader_criteria(Metric, Metric.job_id.in_(own_jobs)),
        with_loader_criteria(JobEvent, JobEvent.job_id.in_(own_jobs)),
    )


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    tenant = session_tenant(session)
    for row in session.new:
        if not isinstance(row, TenantOwned):
            continue
        if row.tenant_id is None:
            if tenant is None:
                raise CrossTenantWrite(f"{type(row).__name__} created without a tenant")
            row.tenant_id = tenant
        elif tenant is not None and row.tenant_id != tenant:
            raise CrossTenantWrite(
                f"a session of tenant {tenant!r} cannot store a row of {row.tenant_id!r}"
            )
