global using System.Net;
global using BookShelf.Testing;
global using Microsoft.Playwright;
global using Xunit;
