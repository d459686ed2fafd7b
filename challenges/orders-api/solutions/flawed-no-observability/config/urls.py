"""URL routes: the versioned API under /v1, the health check at the root, JSON error handlers."""

from django.urls import path

from shop import views

urlpatterns = [
    path("health", views.HealthView.as_view()),
    path("v1/products", views.ProductListView.as_view()),
    path("v1/products/<int:product_id>", views.ProductDetailView.as_view()),
    path("v1/customers", views.CustomerListView.as_view()),
    path("v1/customers/<int:customer_id>", views.CustomerDetailView.as_view()),
    path("v1/orders", views.OrderListView.as_view()),
    path("v1/orders/<int:order_id>", views.OrderDetailView.as_view()),
    path("v1/orders/<int:order_id>/cancel", views.OrderCancelView.as_view()),
    path("v1/reports/revenue", views.RevenueReportView.as_view()),
]

handler400 = "shop.errors.bad_request"
handler404 = "shop.errors.not_found"
handler500 = "shop.errors.server_error"
