"""`/v1/products`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.models import Product
from app.params import PageParams, page_params
from app.routes.common import error_responses as errors
from app.schemas import Page, ProductCreate, ProductOut, ProductUpdate
from app.services import catalog
from app.state import State

router = APIRouter(prefix="/v1/products", tags=["products"])
SCOPE = "products"


@router.post("", status_code=201, response_model=ProductOut, responses=errors(409, 422))
async def create_product(payload: ProductCreate, state: State) -> Product:
    """Add a product; its SKU must be unused."""
    return await catalog.create_product(state.db, payload)


@router.get("", response_model=Page[ProductOut], responses=errors(422))
async def list_products(state: State, page: Annotated[PageParams, Depends(page_params)]) -> dict[str, Any]:
    """Products by id, a page at a time."""
    after = state.cursors.decode(SCOPE, page.cursor) if page.cursor is not None else 0
    async with state.db.session() as session:
        rows = await catalog.list_products(session, after, page.limit + 1)
    return state.cursors.page(SCOPE, rows, page.limit)


@router.get("/{product_id}", response_model=ProductOut, responses=errors(404))
async def get_product(product_id: int, state: State) -> Product:
    """One product."""
    async with state.db.session() as session:
        return await catalog.get_product(session, product_id)


@router.patch("/{product_id}", response_model=ProductOut, responses=errors(404, 422))
async def update_product(product_id: int, payload: ProductUpdate, state: State) -> Product:
    """Restock or reprice a product."""
    return await catalog.update_product(state.db, state.product_cache, product_id, payload)
