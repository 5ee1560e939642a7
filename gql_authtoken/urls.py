"""REST endpoints: ``path("auth/", include("gql_authtoken.urls"))``."""

from django.urls import path

from .rest import views

app_name = "gql_authtoken"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logoutall/", views.LogoutAllView.as_view(), name="logoutall"),
    path("refresh/", views.RefreshView.as_view(), name="refresh"),
    path("token/", views.TokenCheckView.as_view(), name="token"),
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<str:session_id>/", views.SessionView.as_view(), name="session"),
    path("apiaccess/", views.ApiAccessView.as_view(), name="apiaccess"),
    path("register/", views.RegisterView.as_view(), name="register"),
    path("register/confirm/<str:token>/", views.ConfirmEmailView.as_view(), name="register-confirm"),
]
