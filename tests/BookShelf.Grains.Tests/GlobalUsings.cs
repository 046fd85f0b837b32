global using BookShelf.Gateway.Feed;
global using BookShelf.Grains.Interfaces;
global using BookShelf.Grains.Interfaces.Models;
global using BookShelf.Grains.Tests.Infrastructure;
global using Xunit;
global using BookShelf.Testing;
