from django.urls import path

from prompts import views

urlpatterns = [path("", views.home, name="home")]
