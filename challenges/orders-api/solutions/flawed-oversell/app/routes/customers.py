"""`/v1/customers`."""

from __future__ import annotations

from fastapi import APIRouter

from app.models import Customer
from app.routes.common import error_responses as errors
from app.schemas import CustomerCreate, CustomerOut
from app.services import catalog
from app.state import State

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post("", status_code=201, response_model=CustomerOut, responses=errors(409, 422))
async def create_customer(payload: CustomerCreate, state: State) -> Customer:
    """Add a customer; the email must be unused (compared case-insensitively)."""
    return await catalog.create_customer(state.db, payload)


@router.get("/{customer_id}", response_model=CustomerOut, responses=errors(404))
async def get_customer(customer_id: int, state: State) -> Customer:
    """One customer."""
    async with state.db.session() as session:
        return await catalog.get_customer(session, customer_id)
