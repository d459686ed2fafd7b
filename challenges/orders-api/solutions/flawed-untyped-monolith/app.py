import os
import sys
import re
import json
import time
import uuid
import hmac
import base64
import hashlib
import sqlite3
import logging
import threading
import traceback
from datetime import datetime, timezone, timedelta

import psycopg
from psycopg.rows import dict_row
from flask import Flask, request, jsonify, g
from werkzeug.exceptions import HTTPException

# ---------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------

PORT = int(os.environ.get("PORT", "8000"))
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///app.db")
SECRET_KEY = os.environ.get("SECRET_KEY")
if not SECRET_KEY:
    # TODO remove before going live, handy for running locally
    SECRET_KEY = "orders-dev-Kq8vR3nZ2xWb7TfL9pYd4HsJ6mCe1Ua5"
ORDERS_PER_MINUTE = int(os.environ.get("ORDERS_PER_MINUTE", "30"))

# postgres in production, sqlite for the tests / local runs
USE_SQLITE = DATABASE_URL.startswith("sqlite")
DB_PATH = DATABASE_URL.replace("sqlite:///", "")
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.sql")
SCHEMA_SQLITE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema_sqlite.sql")
IntegrityErrors = (sqlite3.IntegrityError, psycopg.IntegrityError)

logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
logger = logging.getLogger("orders")

app = Flask(__name__)
app.config["SECRET_KEY"] = SECRET_KEY
app.config["JSON_SORT_KEYS"] = False

# globals
rate_limit_hits = {}
order_lock = threading.Lock()
db_initialized = False
request_count = 0

SKU_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# characters we keep in names, everything else is stripped (no html / emoji junk in the db)
NAME_JUNK_RE = re.compile(r"[^\w\s\-.,'&()/]")
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# ---------------------------------------------------------------------------
# database helpers
# ---------------------------------------------------------------------------

class QmarkCursor(psycopg.Cursor):
    # all the sql below uses sqlite's ? placeholders, postgres wants %s
    def execute(self, query, params=None, **kwargs):
        return super().execute(query.replace("?", "%s"), params, **kwargs)


def get_db():
    if not USE_SQLITE:
        return psycopg.connect(DATABASE_URL, row_factory=dict_row, cursor_factory=QmarkCursor, connect_timeout=10)
    conn = sqlite3.connect(DB_PATH, timeout=15)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def init_db():
    global db_initialized
    if db_initialized:
        return
    f = open(SCHEMA_SQLITE_FILE if USE_SQLITE else SCHEMA_FILE)
    sql = f.read()
    f.close()
    conn = get_db()
    if USE_SQLITE:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except:
            pass
        conn.executescript(sql)
    else:
        conn.execute(sql)
    conn.commit()
    conn.close()
    db_initialized = True
    print("database ready (" + ("sqlite " + DB_PATH if USE_SQLITE else "postgres") + ")")


def log_json(level, message, extra={}):
    record = {"level": level, "message": message}
    record.update(extra)
    if level == "error":
        logger.error(json.dumps(record))
    else:
        logger.info(json.dumps(record))


def now_iso():
    return datetime.now(timezone.utc).strftime(TS_FORMAT)


def error_response(status, code, message, details={}):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    resp = jsonify(body)
    resp.status_code = status
    return resp


def product_to_dict(row):
    return {
        "id": row["id"],
        "name": row["name"],
        "sku": row["sku"],
        "price_cents": row["price_cents"],
        "stock": row["stock"],
        "created_at": row["created_at"],
    }


def customer_to_dict(row):
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "created_at": row["created_at"],
    }


def order_to_dict(conn, row):
    cur = conn.cursor()
    cur.execute("SELECT * FROM order_items WHERE order_id = ? ORDER BY id", (row["id"],))
    items = []
    for it in cur.fetchall():
        items.append({
            "product_id": it["product_id"],
            "quantity": it["quantity"],
            "unit_price_cents": it["unit_price_cents"],
            "line_total_cents": it["line_total_cents"],
        })
    cur.close()
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "status": row["status"],
        "total_cents": row["total_cents"],
        "items": items,
        "created_at": row["created_at"],
    }


def orders_to_dicts(conn, rows):
    # a whole page of orders: their lines in one query (by id range) instead of one query per order
    if not rows:
        return []
    cur = conn.cursor()
    cur.execute("SELECT * FROM order_items WHERE order_id BETWEEN ? AND ? ORDER BY id",
                (rows[0]["id"], rows[-1]["id"]))
    lines = {}
    for it in cur.fetchall():
        lines.setdefault(it["order_id"], []).append({
            "product_id": it["product_id"],
            "quantity": it["quantity"],
            "unit_price_cents": it["unit_price_cents"],
            "line_total_cents": it["line_total_cents"],
        })
    cur.close()
    result = []
    for row in rows:
        result.append({
            "id": row["id"],
            "customer_id": row["customer_id"],
            "status": row["status"],
            "total_cents": row["total_cents"],
            "items": lines.get(row["id"], []),
            "created_at": row["created_at"],
        })
    return result


def make_cursor(last_id):
    raw = str(last_id)
    sig = hmac.new(SECRET_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()[:20]
    return base64.urlsafe_b64encode((raw + ":" + sig).encode()).decode().rstrip("=")


def read_cursor(cursor):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = base64.urlsafe_b64decode(padded.encode()).decode()
        raw, sig = decoded.split(":")
        expected = hmac.new(SECRET_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()[:20]
        if not hmac.compare_digest(sig, expected):
            return None
        return int(raw)
    except Exception:
        return None


def parse_timestamp(value):
    try:
        dt = datetime.fromisoformat(value)
    except:
        return None
    if dt.tzinfo == None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime(TS_FORMAT)


# ---------------------------------------------------------------------------
# request hooks
# ---------------------------------------------------------------------------

@app.before_request
def before():
    g.start = time.time()
    rid = request.headers.get("X-Request-ID")
    ok = False
    if rid:
        if len(rid) <= 128:
            ok = True
            for ch in rid:
                if ord(ch) < 32 or ord(ch) > 126:
                    ok = False
                    break
    if ok:
        g.request_id = rid
    else:
        g.request_id = uuid.uuid4().hex


@app.after_request
def after(response):
    global request_count
    request_count += 1
    rid = getattr(g, "request_id", None) or uuid.uuid4().hex
    response.headers["X-Request-ID"] = rid
    try:
        duration = (time.time() - g.start) * 1000
    except Exception:
        duration = 0
    try:
        log_json("info", "request", {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration, 2),
            "request_id": rid,
        })
    except Exception:
        pass
    return response


# ---------------------------------------------------------------------------
# error handlers
# ---------------------------------------------------------------------------

@app.errorhandler(404)
def handle_404(e):
    return error_response(404, "not_found", "resource not found")


@app.errorhandler(405)
def handle_405(e):
    return error_response(405, "method_not_allowed", "method not allowed")


@app.errorhandler(400)
def handle_400(e):
    return error_response(400, "validation_error", "bad request")


@app.errorhandler(Exception)
def handle_exception(e):
    if isinstance(e, HTTPException):
        return error_response(e.code, "internal_error", e.description or "error")
    print("ERROR", e)
    logger.error("unhandled error: %s", e)
    return error_response(500, "internal_error", "internal server error")


# ---------------------------------------------------------------------------
# health
# ---------------------------------------------------------------------------

@app.route("/health")
def health():
    return jsonify({"status": "ok"})


@app.route("/ready")
def ready():
    try:
        conn = get_db()
        conn.execute("SELECT 1").fetchone()
        conn.close()
        return jsonify({"status": "ready"})
    except:
        return error_response(503, "internal_error", "database not available")


# ---------------------------------------------------------------------------
# products
# ---------------------------------------------------------------------------

def validate_product(data, partial=False):
    errors = []
    cleaned = {}
    if not isinstance(data, dict):
        return None, ["body must be an object"]
    if "name" in data or not partial:
        if "name" not in data:
            errors.append("name is required")
        else:
            name = data["name"]
            if not isinstance(name, str):
                errors.append("name must be a string")
            else:
                name = NAME_JUNK_RE.sub("", name).strip()
                if len(name) < 1 or len(name) > 200:
                    errors.append("name must be 1-200 characters")
                else:
                    cleaned["name"] = name
    if "sku" in data or not partial:
        if "sku" not in data:
            errors.append("sku is required")
        else:
            sku = data["sku"]
            if not isinstance(sku, str):
                errors.append("sku must be a string")
            else:
                if len(sku) < 1 or len(sku) > 64:
                    errors.append("sku must be 1-64 characters")
                elif not SKU_RE.match(sku):
                    errors.append("sku may only contain letters, digits, - and _")
                else:
                    cleaned["sku"] = sku
    if "price_cents" in data or not partial:
        if "price_cents" not in data:
            errors.append("price_cents is required")
        else:
            price = data["price_cents"]
            if type(price) == float:
                errors.append("price_cents must be an integer")
            else:
                try:
                    price = int(price)
                    if price < 0:
                        errors.append("price_cents must be >= 0")
                    else:
                        cleaned["price_cents"] = price
                except:
                    errors.append("price_cents must be an integer")
    if "stock" in data or not partial:
        if "stock" not in data:
            errors.append("stock is required")
        else:
            stock = data["stock"]
            if type(stock) == float:
                errors.append("stock must be an integer")
            else:
                try:
                    stock = int(stock)
                    if stock < 0:
                        errors.append("stock must be >= 0")
                    else:
                        cleaned["stock"] = stock
                except:
                    errors.append("stock must be an integer")
    return cleaned, errors


@app.route("/v1/products", methods=["POST"])
def create_product():
    data = request.get_json(silent=True)
    if data is None or not isinstance(data, dict):
        return error_response(400, "validation_error", "body must be a JSON object")
    cleaned, errors = validate_product(data)
    if errors:
        return error_response(422, "validation_error", "invalid product", {"errors": errors})
    conn = get_db()
    cur = conn.cursor()
    try:
        cur.execute(
            "INSERT INTO products (name, sku, price_cents, stock, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (cleaned["name"], cleaned["sku"], cleaned["price_cents"], cleaned["stock"], now_iso()),
        )
        new_id = cur.fetchall()[0]["id"]
        conn.commit()
    except IntegrityErrors:
        conn.close()
        return error_response(409, "conflict", "sku " + cleaned["sku"] + " already exists")
    cur.execute("SELECT * FROM products WHERE id = ?", (new_id,))
    row = cur.fetchone()
    conn.close()
    return jsonify(product_to_dict(row)), 201


@app.route("/v1/products/<int:product_id>", methods=["GET"])
def get_product(product_id):
    conn = get_db()
    cur = conn.cursor()
    cur.execute("SELECT * FROM products WHERE id = ?", (product_id,))
    row = cur.fetchone()
    if row is None:
        return error_response(404, "not_found", "product " + str(product_id) + " not found")
    conn.close()
    return jsonify(product_to_dict(row))


@app.route("/v1/products/<int:product_id>", methods=["PATCH"])
def update_product(product_id):
    data = request.get_json(silent=True)
    if data is None or not isinstance(data, dict):
        return error_response(400, "validation_error", "body must be a JSON object")
    cleaned, errors = validate_product(data, partial=True)
    if errors:
        return error_response(422, "validation_error", "invalid product", {"errors": errors})
    conn = get_db()
    cur = conn.cursor()
    cur.execute("SELECT * FROM products WHERE id = ?", (product_id,))
    row = cur.fetchone()
    if row is None:
        conn.close()
        return error_response(404, "not_found", "product " + str(product_id) + " not found")
    for field in cleaned:
        try:
            cur.execute("UPDATE products SET " + field + " = ? WHERE id = ?", (cleaned[field], product_id))
        except IntegrityErrors:
            conn.rollback()
            conn.close()
            return error_response(409, "conflict", "sku already exists")
    conn.commit()
    cur.execute("SELECT * FROM products WHERE id = ?", (product_id,))
    row = cur.fetchone()
    conn.close()
    return jsonify(product_to_dict(row))


@app.route("/v1/products", methods=["GET"])
def list_products():
    limit = request.args.get("limit", "20")
    try:
        limit = int(limit)
    except:
        return error_response(422, "validation_error", "limit must be an integer")
    if limit < 1 or limit > 100:
        return error_response(422, "validation_error", "limit must be between 1 and 100")
    after_id = 0
    cursor = request.args.get("cursor")
    if cursor is not None:
        after_id = read_cursor(cursor)
        if after_id is None:
            return error_response(422, "validation_error", "invalid cursor")
    conn = get_db()
    cur = conn.cursor()
    cur.execute("SELECT * FROM products WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit + 1))
    rows = cur.fetchall()
    conn.close()
    items = []
    for r in rows[:limit]:
        items.append(product_to_dict(r))
    next_cursor = None
    if len(rows) > limit:
        next_cursor = make_cursor(items[-1]["id"])
    return jsonify({"items": items, "next_cursor": next_cursor})


# ---------------------------------------------------------------------------
# customers
# ---------------------------------------------------------------------------

@app.route("/v1/customers", methods=["POST"])
def create_customer():
    data = request.get_json(silent=True)
    if data is None or not isinstance(data, dict):
        return error_response(400, "validation_error", "body must be a JSON object")
    errors = []
    name = data.get("name")
    email = data.get("email")
    if name is None:
        errors.append("name is required")
    elif not isinstance(name, str):
        errors.append("name must be a string")
    elif len(name) < 1 or len(name) > 200:
        errors.append("name must be 1-200 characters")
    if email is None:
        errors.append("email is required")
    elif not isinstance(email, str):
        errors.append("email must be a string")
    else:
        if email.count("@") != 1:
            errors.append("email must contain one @")
        else:
            local, domain = email.split("@")
            if not local or not domain:
                errors.append("email must have text on both sides of @")
            elif len(email) > 254:
                errors.append("email too long")
    if len(errors) > 0:
        return error_response(422, "validation_error", "invalid customer", {"errors": errors})
    conn = get_db()
    cur = conn.cursor()
    try:
        cur.execute(
            "INSERT INTO customers (name, email, email_lower, created_at) VALUES (?, ?, ?, ?) RETURNING id",
            (name, email, email.lower(), now_iso()),
        )
        new_id = cur.fetchall()[0]["id"]
        conn.commit()
    except IntegrityErrors:
        conn.close()
        return error_response(409, "conflict", "email already used")
    cur.execute("SELECT * FROM customers WHERE id = ?", (new_id,))
    row = cur.fetchone()
    conn.close()
    return jsonify(customer_to_dict(row)), 201


@app.route("/v1/customers/<int:customer_id>", methods=["GET"])
def get_customer(customer_id):
    conn = get_db()
    cur = conn.cursor()
    cur.execute("SELECT * FROM customers WHERE id = ?", (customer_id,))
    row = cur.fetchone()
    if row is None:
        return error_response(404, "not_found", "customer " + str(customer_id) + " not found")
    conn.close()
    return jsonify(customer_to_dict(row))


# ---------------------------------------------------------------------------
# orders
# ---------------------------------------------------------------------------

def validate_order(data):
    errors = []
    cleaned = {"items": []}
    if "customer_id" not in data:
        errors.append("customer_id is required")
    else:
        cid = data["customer_id"]
        if type(cid) == float:
            errors.append("customer_id must be an integer")
        else:
            try:
                cleaned["customer_id"] = int(cid)
            except:
                errors.append("customer_id must be an integer")
    if "items" not in data:
        errors.append("items is required")
    elif not isinstance(data["items"], list):
        errors.append("items must be a list")
    elif len(data["items"]) < 1 or len(data["items"]) > 50:
        errors.append("items must have 1 to 50 lines")
    else:
        seen = []
        for i, item in enumerate(data["items"]):
            if not isinstance(item, dict):
                errors.append("items[%d] must be an object" % i)
                continue
            line = {}
            if "product_id" not in item:
                errors.append("items[%d].product_id is required" % i)
            else:
                if type(item["product_id"]) == float:
                    errors.append("items[%d].product_id must be an integer" % i)
                else:
                    try:
                        line["product_id"] = int(item["product_id"])
                        if line["product_id"] in seen:
                            errors.append("product %d appears twice" % line["product_id"])
                        else:
                            seen.append(line["product_id"])
                    except:
                        errors.append("items[%d].product_id must be an integer" % i)
            if "quantity" not in item:
                errors.append("items[%d].quantity is required" % i)
            else:
                if type(item["quantity"]) == float:
                    errors.append("items[%d].quantity must be an integer" % i)
                else:
                    try:
                        q = int(item["quantity"])
                        if q < 1 or q > 1000:
                            errors.append("items[%d].quantity must be 1-1000" % i)
                        else:
                            line["quantity"] = q
                    except:
                        errors.append("items[%d].quantity must be an integer" % i)
            if "product_id" in line and "quantity" in line:
                cleaned["items"].append(line)
    return cleaned, errors


def check_rate_limit(customer_id, now=None, hits=rate_limit_hits):
    if now is None:
        now = time.time()
    window = hits.get(customer_id, [])
    window = [t for t in window if now - t < 60]
    if len(window) >= ORDERS_PER_MINUTE:
        retry = 60 - (now - window[0])
        if retry < 1:
            retry = 1
        hits[customer_id] = window
        return retry
    window.append(now)
    hits[customer_id] = window
    return 0


@app.route("/v1/orders", methods=["POST"])
def create_order():
    data = request.get_json(silent=True)
    if data is None or not isinstance(data, dict):
        return error_response(400, "validation_error", "body must be a JSON object")
    cleaned, errors = validate_order(data)
    if errors:
        return error_response(422, "validation_error", "invalid order", {"errors": errors})
    customer_id = cleaned["customer_id"]
    idem_key = request.headers.get("Idempotency-Key")
    if idem_key is not None:
        if len(idem_key) < 1 or len(idem_key) > 255:
            return error_response(422, "validation_error", "Idempotency-Key must be 1-255 characters")
    conn = get_db()
    cur = conn.cursor()
    cur.execute("SELECT id FROM customers WHERE id = ?", (customer_id,))
    if cur.fetchone() is None:
        conn.close()
        return error_response(422, "validation_error", "customer " + str(customer_id) + " does not exist")
    body_hash = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    if idem_key is not None:
        cur.execute("SELECT * FROM idempotency_keys WHERE key = ?", (idem_key,))
        existing = cur.fetchone()
        if existing is not None:
            if existing["request_hash"] != body_hash:
                conn.close()
                return error_response(409, "idempotency_conflict", "Idempotency-Key was used with another body")
            else:
                cur.execute("SELECT * FROM orders WHERE id = ?", (existing["order_id"],))
                old = cur.fetchone()
                result = order_to_dict(conn, old)
                conn.close()
                return jsonify(result), existing["status_code"]
    retry = check_rate_limit(customer_id)
    if retry:
        conn.close()
        resp = error_response(429, "rate_limited", "too many orders, try again later")
        resp.headers["Retry-After"] = str(round(retry, 1))
        return resp
    order_lock.acquire()
    try:
        lines = []
        total = 0
        for item in cleaned["items"]:
            cur.execute("SELECT * FROM products WHERE id = ?", (item["product_id"],))
            product = cur.fetchone()
            if product is None:
                conn.close()
                return error_response(422, "validation_error",
                                      "product " + str(item["product_id"]) + " does not exist")
            if product["stock"] < item["quantity"]:
                conn.close()
                return error_response(409, "insufficient_stock",
                                      "not enough stock for product " + str(product["id"]),
                                      {"product_id": product["id"], "available": product["stock"]})
            line_total = product["price_cents"] * item["quantity"]
            total = total + line_total
            lines.append({
                "product_id": product["id"],
                "quantity": item["quantity"],
                "unit_price_cents": product["price_cents"],
                "line_total_cents": line_total,
            })
        created = now_iso()
        cur.execute(
            "INSERT INTO orders (customer_id, status, total_cents, created_at) VALUES (?, 'placed', ?, ?) RETURNING id",
            (customer_id, total, created),
        )
        order_id = cur.fetchall()[0]["id"]
        for line in lines:
            cur.execute(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_total_cents) "
                "VALUES (?, ?, ?, ?, ?)",
                (order_id, line["product_id"], line["quantity"], line["unit_price_cents"], line["line_total_cents"]),
            )
            # only take what is there, the db decides (postgres locks the row until commit)
            cur.execute("UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?",
                        (line["quantity"], line["product_id"], line["quantity"]))
            if cur.rowcount != 1:
                conn.rollback()
                conn.close()
                return error_response(409, "insufficient_stock", "not enough stock for product " + str(line["product_id"]))
        if idem_key is not None:
            cur.execute(
                "INSERT INTO idempotency_keys (key, request_hash, order_id, status_code, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (idem_key, body_hash, order_id, 201, created),
            )
        conn.commit()
    except Exception as e:
        try:
            conn.rollback()
        except:
            pass
        logger.error("could not place order: " + str(e))
        conn.close()
        return error_response(500, "internal_error", "could not place order")
    finally:
        order_lock.release()
    cur.execute("SELECT * FROM orders WHERE id = ?", (order_id,))
    row = cur.fetchone()
    result = order_to_dict(conn, row)
    conn.close()
    return jsonify(result), 201


@app.route("/v1/orders/<int:order_id>", methods=["GET"])
def get_order(order_id):
    conn = get_db()
    cur = conn.cursor()
    cur.execute("SELECT * FROM orders WHERE id = ?", (order_id,))
    row = cur.fetchone()
    if row is None:
        conn.close()
        return error_response(404, "not_found", "order " + str(order_id) + " not found")
    result = order_to_dict(conn, row)
    conn.close()
    return jsonify(result)


@app.route("/v1/orders/<int:order_id>/cancel", methods=["POST"])
def cancel_order(order_id):
    conn = get_db()
    cur = conn.cursor()
    order_lock.acquire()
    try:
        cur.execute("SELECT * FROM orders WHERE id = ?", (order_id,))
        row = cur.fetchone()
        if row is None:
            return error_response(404, "not_found", "order " + str(order_id) + " not found")
        if row["status"] == "cancelled":
            return error_response(409, "conflict", "order " + str(order_id) + " is already cancelled")
        cur.execute("SELECT * FROM order_items WHERE order_id = ?", (order_id,))
        for it in cur.fetchall():
            conn.execute("UPDATE products SET stock = stock + ? WHERE id = ?", (it["quantity"], it["product_id"]))
        cur.execute("UPDATE orders SET status = 'cancelled' WHERE id = ?", (order_id,))
        conn.commit()
    finally:
        order_lock.release()
    cur.execute("SELECT * FROM orders WHERE id = ?", (order_id,))
    result = order_to_dict(conn, cur.fetchone())
    conn.close()
    return jsonify(result)


@app.route("/v1/orders", methods=["GET"])
def list_orders():
    limit = request.args.get("limit", "20")
    try:
        limit = int(limit)
    except:
        return error_response(422, "validation_error", "limit must be an integer")
    if limit < 1 or limit > 100:
        return error_response(422, "validation_error", "limit must be between 1 and 100")
    after_id = 0
    cursor = request.args.get("cursor")
    if cursor is not None:
        after_id = read_cursor(cursor)
        if after_id is None:
            return error_response(422, "validation_error", "invalid cursor")
    where = ["id > ?"]
    params = [after_id]
    status = request.args.get("status")
    if status is not None:
        if status not in ("placed", "cancelled"):
            return error_response(422, "validation_error", "status must be placed or cancelled")
        where.append("status = ?")
        params.append(status)
    customer_id = request.args.get("customer_id")
    if customer_id is not None:
        try:
            customer_id = int(customer_id)
        except:
            return error_response(422, "validation_error", "customer_id must be an integer")
        where.append("customer_id = ?")
        params.append(customer_id)
    created_from = request.args.get("created_from")
    if created_from is not None:
        created_from = parse_timestamp(created_from)
        if created_from is None:
            return error_response(422, "validation_error", "created_from is not a valid timestamp")
        where.append("created_at >= ?")
        params.append(created_from)
    created_to = request.args.get("created_to")
    if created_to is not None:
        created_to = parse_timestamp(created_to)
        if created_to is None:
            return error_response(422, "validation_error", "created_to is not a valid timestamp")
        where.append("created_at < ?")
        params.append(created_to)
    params.append(limit + 1)
    sql = f"SELECT * FROM orders WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
    conn = get_db()
    cur = conn.cursor()
    cur.execute(sql, params)
    rows = cur.fetchall()
    items = orders_to_dicts(conn, rows[:limit])
    conn.close()
    next_cursor = None
    if len(rows) > limit:
        next_cursor = make_cursor(items[-1]["id"])
    return jsonify({"items": items, "next_cursor": next_cursor})


# ---------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------

@app.route("/v1/reports/revenue", methods=["GET"])
def revenue_report():
    date_from = request.args.get("from")
    date_to = request.args.get("to")
    where = "o.status = 'placed'"
    params = []
    if date_from is not None:
        try:
            dt = datetime.fromisoformat(date_from)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            where = where + " AND o.created_at >= ?"
            params.append(dt.astimezone(timezone.utc).strftime(TS_FORMAT))
        except:
            return error_response(422, "validation_error", "from is not a valid timestamp")
    if date_to is not None:
        try:
            dt = datetime.fromisoformat(date_to)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            where = where + " AND o.created_at < ?"
            params.append(dt.astimezone(timezone.utc).strftime(TS_FORMAT))
        except:
            return error_response(422, "validation_error", "to is not a valid timestamp")
    sql = """
        SELECT p.id AS product_id, p.sku AS sku, p.name AS name,
               SUM(oi.quantity) AS units_sold, SUM(oi.line_total_cents) AS revenue_cents
        FROM order_items oi
        JOIN orders o ON o.id = oi.order_id
        JOIN products p ON p.id = oi.product_id
        WHERE """ + where + """
        GROUP BY p.id, p.sku, p.name
        ORDER BY revenue_cents DESC, p.id ASC
    """
    conn = get_db()
    cur = conn.cursor()
    cur.execute(sql, params)
    items = []
    total = 0
    for r in cur.fetchall():
        # postgres gives SUM(bigint) back as a Decimal
        items.append({
            "product_id": r["product_id"],
            "sku": r["sku"],
            "name": r["name"],
            "units_sold": int(r["units_sold"]),
            "revenue_cents": int(r["revenue_cents"]),
        })
        total += int(r["revenue_cents"])
    conn.close()
    return jsonify({"from": date_from, "to": date_to, "total_revenue_cents": total, "items": items})


init_db()

if __name__ == "__main__":
    print("Starting orders api on port " + str(PORT))
    app.run(host="0.0.0.0", port=PORT, threaded=True)
