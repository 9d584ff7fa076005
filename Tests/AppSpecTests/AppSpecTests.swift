import AppSpec
